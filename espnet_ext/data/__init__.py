"""Data directories (Kaldi style), audio I/O, validation and corpus preparation."""
