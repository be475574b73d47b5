"""The cluster backend (``[cluster]``, ``pip install 'qabot[cluster]'``): the index's first
stage served by shards on Ray actors (``shard``) and fanned out by a coordinator
(``coordinator``) in the process that answers. Ray is imported only when it is enabled."""
