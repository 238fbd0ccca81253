fn main() {
    hms_core::main(hms_vpc::run)
}
