//! The `runai` double of a 2.2x v2 CLI; see `nb_tests::runai_double`.

fn main() -> std::process::ExitCode {
    nb_tests::runai_double::main(nb_tests::runai_grammar::Cli::V2Era22x)
}
