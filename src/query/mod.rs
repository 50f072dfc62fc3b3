//! The query engine: filter parsing, compilation against the schema, evaluation and planning.
