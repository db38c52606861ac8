//! The bundled example's binary: what the release tool builds, signs and publishes.

fn main() {
    println!("hello from {} {}", env!("CARGO_PKG_NAME"), env!("CARGO_PKG_VERSION"));
}
