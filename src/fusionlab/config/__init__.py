"""The composed run config: the resolvers its YAML uses, the checks it must pass before anything is built,
which of its keys can change a result, and rebuilding one read from an untrusted file."""
