"""From logged failures to a better model: synthesize, approve, fine-tune, gate, promote."""
