"""Tables, one module per context; `careline.db` exports them all."""
