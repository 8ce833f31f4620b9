//! The `runai` double of the v1 CLI (cluster 2.18, RCP today); see
//! `nb_tests::runai_double`.

fn main() -> std::process::ExitCode {
    nb_tests::runai_double::main(nb_tests::runai_grammar::Cli::V1)
}
