"""The local stack: the packages, images and podman settings Conveyor needs (`conveyor setup`
makes them, `conveyor doctor` checks them)."""
