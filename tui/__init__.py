"""brie's Textual UI. Imports brie's public functions only; brie never imports this package."""
