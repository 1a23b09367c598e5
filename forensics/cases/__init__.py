"""Cases: many items kept byte for byte with a tamper-evident chain of custody."""
