"""Text classification: pretrained transformer encoders fine-tuned on the user's labelled text."""
