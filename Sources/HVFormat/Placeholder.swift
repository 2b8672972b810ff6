// HVFormat: placeholder until its issue lands.
