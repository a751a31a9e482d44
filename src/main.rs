fn main() {
    println!("relman");
}
