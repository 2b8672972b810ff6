// HVTokenizer: placeholder until its issue lands.
