fn main() {
    hms_core::main(hms_security::run)
}
