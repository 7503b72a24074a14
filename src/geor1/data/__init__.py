"""Datasets on disk: the shared sample schema, converters from public datasets, few-shot splits."""
from geor1.data.schema import TASKS, Dataset, Sample, SchemaError, load_dataset, write_dataset

__all__ = ["TASKS", "Dataset", "Sample", "SchemaError", "load_dataset", "write_dataset"]
