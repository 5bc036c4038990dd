"""Install deepastro from settings.ini (nbdev 2 layout)."""
from configparser import ConfigParser
import setuptools, shlex, shutil
from pathlib import Path
from setuptools.command.build_py import build_py

class BuildWithNotebooks(build_py):
    "Also copy the stage notebooks, parameter files and images into the package (deepastro/nbs): `deepastro run` from any folder"
    def run(self):
        super().run()
        src, dst = Path('nbs'), Path(self.build_lib) / 'deepastro' / 'nbs'
        if not (src / '02_data.ipynb').exists(): raise FileNotFoundError("nbs/ (the stage notebooks) is missing from the source tree")
        shutil.rmtree(dst, ignore_errors=True)        # no stale notebooks of an earlier build
        for pattern in ('[0-9][0-9]_*.ipynb', 'index.ipynb', 'params/*.yaml', 'pairs/*.yaml', 'images/*', 'measured/**/*'):
            for f in (f for f in src.glob(pattern) if f.is_file()):     # measured/: results of `deepastro run --seeds`, folders as a runs folder
                (dst / f.relative_to(src)).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(f, dst / f.relative_to(src))

config = ConfigParser(delimiters=['='])
config.read('settings.ini', encoding='utf-8')
cfg = config['DEFAULT']

licenses = {'apache2': ('Apache Software License 2.0', 'OSI Approved :: Apache Software License')}
statuses = ['1 - Planning', '2 - Pre-Alpha', '3 - Alpha', '4 - Beta', '5 - Production/Stable',
            '6 - Mature', '7 - Inactive']
py_versions = '3.10 3.11 3.12'.split()

requirements = shlex.split(cfg.get('requirements', ''))
dev_requirements = shlex.split(cfg.get('dev_requirements', ''))
lic = licenses[cfg['license']]
min_python = cfg['min_python']

setuptools.setup(
    name=cfg['lib_name'],
    license=lic[0],
    classifiers=['Development Status :: ' + statuses[int(cfg['status'])],
                 'Intended Audience :: ' + cfg['audience'].title(),
                 'Natural Language :: ' + cfg['language'].title(),
                 'License :: ' + lic[1],
                 'Topic :: Scientific/Engineering :: Astronomy'] +
                ['Programming Language :: Python :: ' + o
                 for o in py_versions[py_versions.index(min_python):]],
    url=cfg['git_url'],
    packages=setuptools.find_packages(include=['deepastro', 'deepastro.*']),
    include_package_data=True,
    cmdclass={'build_py': BuildWithNotebooks},
    install_requires=requirements,
    extras_require={'dev': dev_requirements},
    python_requires='>=' + min_python,
    long_description=open('README.md', encoding='utf-8').read() if __import__('os').path.exists('README.md') else '',
    long_description_content_type='text/markdown',
    zip_safe=False,
    entry_points={'console_scripts': cfg.get('console_scripts', '').split(),
                  'nbdev': [f'{cfg["lib_path"]}={cfg["lib_path"]}._modidx:d']},
    version=cfg['version'],
    description=cfg['description'],
    author=cfg['author'],
    author_email=cfg['author_email'],
    keywords=cfg['keywords'],
)
