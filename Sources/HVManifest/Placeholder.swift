// HVManifest: placeholder until its issue lands.
