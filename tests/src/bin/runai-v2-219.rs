//! The `runai` double of a 2.19-era v2 CLI (no `--env-secret`); see
//! `nb_tests::runai_double`.

fn main() -> std::process::ExitCode {
    nb_tests::runai_double::main(nb_tests::runai_grammar::Cli::V2Era219)
}
