"""Every record the README cites under bench/results/ is in the repository: a claim
whose record is missing cannot be checked."""
import itertools
import re

from kdkit.utils import repo_root

CITED = re.compile(r'`(bench/results/[^`\s]+)`')


def expand(path: str) -> list[str]:
    """Shell-style ``{a,b}`` groups -> every path they name."""
    parts = re.split(r'\{([^{}]*)\}', path)
    choices = [[p] if i % 2 == 0 else p.split(',') for i, p in enumerate(parts)]
    return [''.join(c) for c in itertools.product(*choices)]


def test_expand_braces():
    assert expand('bench/results/a_{1,2}.{md,json}') == [
        'bench/results/a_1.md', 'bench/results/a_1.json',
        'bench/results/a_2.md', 'bench/results/a_2.json']


def test_every_cited_record_exists():
    root = repo_root()
    cited = sorted(set(CITED.findall((root / 'README.md').read_text())))
    assert len(cited) > 10
    missing = [p for c in cited for p in expand(c) if not (root / p).is_file()]
    assert not missing, f'README.md cites records that are not in bench/results/: {missing}'
