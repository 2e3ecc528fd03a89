//! The `ledgerlink` binary.

fn main() {
    match ledgerlink::cli::main() {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::exit(1);
        }
    }
}
