"""Package metadata for the 12328 hotline node. Runtime pins live in requirements.txt."""

from pathlib import Path

from setuptools import find_packages, setup

HERE = Path(__file__).parent


def requirements(name: str) -> list[str]:
    lines = (HERE / name).read_text(encoding="utf-8").splitlines()
    return [ln.split("#")[0].strip() for ln in lines if ln.split("#")[0].strip() and not ln.startswith("-r")]


setup(
    name="hotline12328",
    version="0.1.0",
    description="12328 交通运输服务监督热线节点 (ministry / province / city)",
    long_description=(HERE / "README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    license="GPL-2.0-or-later",
    python_requires=">=3.11,<3.12",
    packages=find_packages(include=["node", "node.*", "federation", "federation.*", "admin", "admin.*"]),
    include_package_data=True,
    package_data={
        "node": [
            "templates/**/*",
            "static/**/*",
            "migrations/*.py",
            "text/*.txt",
            "analytics/mappings/*.toml",
        ]
    },
    install_requires=requirements("requirements.txt"),
    extras_require={"dev": requirements("requirements-dev.txt")},
    entry_points={"console_scripts": ["hotline = node.cli:main"]},
)
