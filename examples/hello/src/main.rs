//! The bundled example's binary: what the release tool builds, signs and publishes.

fn main() {
    let mut digits = itoa::Buffer::new();
    let year = digits.format(2026);
    println!("hello from {} {} ({year})", env!("CARGO_PKG_NAME"), env!("CARGO_PKG_VERSION"));
}
