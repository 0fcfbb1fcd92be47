"""The tools: one module per tool owning its pipeline (``tools/<name>.py``), their shared
skeleton (``base``), critics per modality (``critics/``), the model host (``host``) and the
registry (``registry.TOOLS``), the one list the rest of the program learns the tools from."""
