fn main() {
    hms_core::main(hms_cache::run)
}
