fn main() {
    hms_core::main(hms_backup::run)
}
