fn main() {
    hms_core::main(hms_db::run)
}
