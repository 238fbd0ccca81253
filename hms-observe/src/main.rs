fn main() {
    hms_core::main(hms_observe::run)
}
