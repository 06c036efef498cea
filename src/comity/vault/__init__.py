"""The evidence vault: every evidence file stored encrypted with its own file key, in the
age v1 format (:mod:`comity.vault.age`) so that a partner can decrypt an exported item
with the standard ``age`` tool."""
