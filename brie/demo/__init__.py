"""`brie demo`: the whole loop on the embedded model, offline (steps), and the material it uses (data)."""
