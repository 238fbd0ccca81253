fn main() {
    hms_core::main(hms_edge::run)
}
