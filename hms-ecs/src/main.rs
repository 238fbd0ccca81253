fn main() {
    hms_core::main(hms_ecs::run)
}
