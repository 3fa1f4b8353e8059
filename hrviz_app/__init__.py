"""The Streamlit app's support package: everything the pages share, by concern.

- :mod:`.paths`: the store's path and the folders beside it;
- :mod:`.resources`: cached Store, hierarchies, the job registry, run vectors;
- :mod:`.story`: the story runs of Home, trained in the background on a first start;
- :mod:`.training`: starting and stopping runs (through :mod:`hrviz.jobs`);
- :mod:`.uploads`: uploaded hierarchy and model files;
- :mod:`.exports`: zipped downloads;
- :mod:`.titles`: display names of hierarchies and runs;
- :mod:`.sidebar`: the sidebar; :mod:`.navigation`: the explicit list of pages.

With ``pages/`` and ``app.py`` this is the only code that imports Streamlit.
"""
