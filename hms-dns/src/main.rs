fn main() {
    hms_core::main(hms_dns::run)
}
