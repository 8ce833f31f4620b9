//! The sweep's summary: one line per point with its index, job name, point
//! and how it ended, in the grid's order. The last column is never cut, so
//! runai's words reach the user whole.

const HEADERS: [&str; 4] = ["INDEX", "NAME", "POINT", "RESULT"];

/// One point's line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub index: String,
    pub name: String,
    pub point: String,
    pub result: String,
}

/// The table, header first, each line ending in a newline, the columns
/// two spaces apart.
pub fn render(rows: &[Row]) -> String {
    let cells = |r: &Row| [r.index.clone(), r.name.clone(), r.point.clone(), r.result.clone()];
    let lines: Vec<[String; 4]> = std::iter::once(HEADERS.map(str::to_owned)).chain(rows.iter().map(cells)).collect();
    let mut widths = [0usize; 3];
    for (i, w) in widths.iter_mut().enumerate() {
        *w = lines.iter().map(|l| l[i].chars().count()).max().unwrap_or(0);
    }
    let mut out = String::new();
    for line in &lines {
        for (cell, width) in line.iter().zip(widths) {
            out.push_str(cell);
            out.push_str(&" ".repeat(width - cell.chars().count() + 2));
        }
        out.push_str(&line[3]);
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(index: &str, name: &str, point: &str, result: &str) -> Row {
        Row { index: index.into(), name: name.into(), point: point.into(), result: result.into() }
    }

    #[test]
    fn columns_line_up_and_the_result_is_whole() {
        let table = render(&[
            row("0", "lr-0", "lr=1e-3", "submitted"),
            row("1", "lr-1", "lr=1e-4 'opt=a, b'", "failed: Error: quota exceeded for project mlo-ada"),
        ]);
        assert_eq!(
            table,
            "INDEX  NAME  POINT               RESULT\n\
             0      lr-0  lr=1e-3             submitted\n\
             1      lr-1  lr=1e-4 'opt=a, b'  failed: Error: quota exceeded for project mlo-ada\n"
        );
    }
}
