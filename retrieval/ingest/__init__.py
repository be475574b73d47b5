"""Growing the corpus: pages, links, feeds and files in, article files in ``corpus/`` out.

One module per job: ``fetch`` (HTTP), ``extract`` (a page's text and metadata), ``feeds``
(RSS and Atom), ``sources`` (what a SOURCE is and the drafts it gives), ``duplicates`` (the
same URL or text, syndicated copies), ``store`` (the corpus directory) and ``add`` (the
steps in order). Import from the modules: this package imports nothing itself, so that reading an
``Origin`` (``records``) does not load httpx; trafilatura, htmldate and feedparser are
imported only when a page or a feed is read.
"""
