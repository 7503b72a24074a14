"""Datasets on disk: the shared sample schema, converters from public datasets, few-shot splits."""
from geor1.data.schema import Dataset, Sample, SchemaError, load_dataset, write_dataset

__all__ = ["Dataset", "Sample", "SchemaError", "load_dataset", "write_dataset"]
