fn main() {
    std::process::exit(relman::cli::main());
}
