//! What a built wheel carries: the `submit` script, which must be an
//! executable for the wheel's platform.
//!
//! Three of the four wheels are cross-built and cannot run here, so their
//! binary is read instead: the CPU in its header, and the property that makes
//! it start on the platform (static on Linux; a code signature on Apple
//! silicon, whose kernel kills unsigned arm64 code).

use std::path::Path;

use anyhow::{Context, Result, bail};

use crate::cmd::Cmd;
use crate::{elf, macho};

/// Where maturin puts a `bindings = bin` executable: the wheel's scripts,
/// which pip installs into the environment's `bin/`.
pub const SCRIPT_PATTERN: &str = "*.data/scripts/submit";

/// The executable a platform's wheel must hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Binary {
    /// A static ELF (no interpreter: runs on any Linux, whatever its libc).
    StaticElf(elf::Machine),
    /// A Mach-O executable, signed when arm64.
    MachO(macho::Cpu),
}

impl std::fmt::Display for Binary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Binary::StaticElf(machine) => write!(f, "static ELF {machine} executable"),
            Binary::MachO(macho::Cpu::Arm64) => f.write_str("signed Mach-O arm64 executable"),
            Binary::MachO(cpu) => write!(f, "Mach-O {cpu} executable"),
        }
    }
}

/// `unzip -p WHEEL '*.data/scripts/submit'`: the script's bytes on stdout.
pub fn unzip_script_cmd(wheel: &Path) -> Cmd {
    Cmd::new("unzip").arg("-p").path_arg(wheel).arg(SCRIPT_PATTERN)
}

/// Reads the `submit` script out of a wheel.
pub fn script(wheel: &Path) -> Result<Vec<u8>> {
    let cmd = unzip_script_cmd(wheel);
    let output = cmd.output()?;
    if !output.status.success() || output.stdout.is_empty() {
        bail!(
            "{} holds no {SCRIPT_PATTERN} (`{cmd}`: {}): is `bindings = \"bin\"` in crates/submit/pyproject.toml?",
            wheel.display(),
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(output.stdout)
}

/// Checks that `bytes` is the executable `expected` names; describes it.
pub fn check(expected: Binary, bytes: &[u8]) -> Result<String> {
    match expected {
        Binary::StaticElf(want) => {
            let machine = elf::machine(bytes)?;
            if machine != want {
                bail!("an ELF executable for {machine}, not {want}");
            }
            let linkage = elf::linkage(bytes)?;
            if !linkage.is_static() {
                bail!("{linkage}: it would not start where that loader is missing");
            }
            Ok(format!("ELF {machine} executable, {linkage}"))
        }
        Binary::MachO(want) => {
            let executable = macho::executable(bytes)?;
            if executable.cpu != want {
                bail!("a Mach-O executable for {}, not {want}", executable.cpu);
            }
            if want == macho::Cpu::Arm64 && !executable.signed {
                bail!("an unsigned arm64 executable: macOS on Apple silicon kills it at start");
            }
            Ok(executable.to_string())
        }
    }
}

/// Reads a wheel's script and checks it; describes it.
pub fn check_wheel(wheel: &Path, expected: Binary) -> Result<String> {
    let bytes = script(wheel)?;
    check(expected, &bytes).with_context(|| format!("the submit in {}", wheel.display()))
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    const X86_64_ELF: Binary = Binary::StaticElf(elf::Machine::X86_64);
    const ARM64_MACHO: Binary = Binary::MachO(macho::Cpu::Arm64);

    fn reason(expected: Binary, bytes: &[u8]) -> String {
        check(expected, bytes).map_err(|e| format!("{e:#}")).err().unwrap_or_default()
    }

    /// A little-endian 64-bit Mach-O executable header with no load commands.
    fn macho_header(cputype: u32) -> Vec<u8> {
        [0xfeed_facf_u32, cputype, 0, 2, 0, 0, 0, 0].iter().flat_map(|field| field.to_le_bytes()).collect()
    }

    #[test]
    fn the_host_tools_are_told_apart_by_format_cpu_and_linkage() {
        let dynamic = std::fs::read("/bin/true").unwrap();
        assert!(
            reason(X86_64_ELF, &dynamic).starts_with("dynamic (interpreter /lib"),
            "{}",
            reason(X86_64_ELF, &dynamic)
        );
        assert_eq!(
            reason(Binary::StaticElf(elf::Machine::Aarch64), &dynamic),
            "an ELF executable for x86_64, not aarch64"
        );
        assert_eq!(reason(ARM64_MACHO, &dynamic), "not a 64-bit Mach-O file");
        let busybox = std::fs::read("/bin/busybox").unwrap();
        assert_eq!(check(X86_64_ELF, &busybox).unwrap(), "ELF x86_64 executable, static");
    }

    #[test]
    fn a_mach_o_must_be_for_its_cpu_and_signed_on_arm64() {
        assert_eq!(reason(ARM64_MACHO, &macho_header(0x0100_0007)), "a Mach-O executable for x86_64, not arm64");
        assert_eq!(
            reason(ARM64_MACHO, &macho_header(0x0100_000c)),
            "an unsigned arm64 executable: macOS on Apple silicon kills it at start"
        );
        let intel = check(Binary::MachO(macho::Cpu::X86_64), &macho_header(0x0100_0007)).unwrap();
        assert_eq!(intel, "Mach-O x86_64 executable, unsigned");
        assert_eq!(reason(X86_64_ELF, &macho_header(0x0100_0007)), "not an ELF file");
    }

    /// A real zip (written by Python's zipfile) with and without the script.
    #[test]
    fn the_script_is_read_out_of_a_wheel() {
        let dir = tempfile::tempdir().unwrap();
        let wheel = dir.path().join("demo-1.0-py3-none-any.whl");
        let write = |entries: &str| {
            let program = format!(
                "import sys, zipfile\nwith zipfile.ZipFile(sys.argv[1], 'w') as z:\n{entries}    z.writestr('demo-1.0.dist-info/WHEEL', 'x')\n"
            );
            let mut file = tempfile::NamedTempFile::new().unwrap();
            file.write_all(program.as_bytes()).unwrap();
            Cmd::new("python3").path_arg(file.path()).path_arg(&wheel).run().unwrap();
        };
        write("    z.writestr('demo-1.0.data/scripts/submit', 'MZ-not-a-binary')\n");
        assert_eq!(script(&wheel).unwrap(), b"MZ-not-a-binary");
        let err = check_wheel(&wheel, X86_64_ELF).unwrap_err();
        assert_eq!(format!("{err:#}"), format!("the submit in {}: not an ELF file", wheel.display()));

        write("");
        let err = format!("{:#}", script(&wheel).unwrap_err());
        assert!(err.starts_with(&format!("{} holds no *.data/scripts/submit", wheel.display())), "{err}");
    }
}
