"""What a photo shows: the bundled ONNX models, and how a photo becomes their input."""
