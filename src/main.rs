fn main() -> std::process::ExitCode {
    vapp::cli::main()
}
