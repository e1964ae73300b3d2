fn main() {
    std::process::exit(llmux::cli::run());
}
