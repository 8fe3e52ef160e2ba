"""What several commands share: each flow wires pure core logic to the adapters."""
