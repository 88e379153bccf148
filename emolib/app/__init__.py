"""What people run and look at around the library.

- ``reproduce``  the main job: the numbered notebooks executed in order, timed
- ``pages``      the generated tables of README.md, results/README.md and docs/ablation.md
- ``bench``      the speed benchmarks, as ratios against a baseline in the same process
- ``widgets``    the notebooks' widgets: utterance player, augmentation explorer, "Try it"

May import: ``core``, ``data``, ``plots``, ``augmentation``, ``models``, ``ssl``, ``evaluation``,
``systems``, ``studies``.
"""
