"""Single-chain model quality assessment (Atom3D's PSR): sets of models of one target, labelled against its native."""
