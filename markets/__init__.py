"""Market conventions shared by every layer: trading sessions, snapshot identity, symbols."""
