"""Compiled kernels and their working memory.

Each kernel module keeps the plain-Python definition it is held to beside it;
nothing here imports the store or the decision core."""
