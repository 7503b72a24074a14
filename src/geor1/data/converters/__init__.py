"""Converters from public datasets' on-disk formats into the geor1 schema.

Each converter is a function ``convert(src: Path, out: Path, **options) -> int`` (records written)
in its own module, whose docstring states the exact on-disk format it reads. Malformed input raises
:class:`geor1.data.schema.SchemaError` naming the file and record.
"""

# format name -> "module:function"
CONVERTERS = {
    "vrsbench": "geor1.data.converters.vrsbench:convert",
    "dior-rsvg": "geor1.data.converters.dior_rsvg:convert",
    "nwpu-vhr10": "geor1.data.converters.nwpu:convert",
    "earthreason": "geor1.data.converters.refseg:convert_earthreason",
    "rrsis-d": "geor1.data.converters.refseg:convert_rrsisd",
    "im2gps3k": "geor1.data.converters.geoloc_csv:convert_im2gps3k",
    "yfcc4k": "geor1.data.converters.geoloc_csv:convert_yfcc4k",
    "cv-cities": "geor1.data.converters.cv_cities:convert",
    "cvusa": "geor1.data.converters.cvusa:convert",
    "vigor": "geor1.data.converters.vigor:convert",
}


def get_converter(name: str):
    import importlib

    if name not in CONVERTERS:
        raise ValueError(f"unknown format {name!r} (known: {', '.join(CONVERTERS)})")
    module, fn = CONVERTERS[name].split(":")
    return getattr(importlib.import_module(module), fn)
