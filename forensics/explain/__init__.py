"""Where the model looked, and whether to believe it.

`registry` (the explanation methods by name: each turns the forward's captures into 24x24
scores; `method` defines what a method is), `rollout` (attention rollout and the head fusions),
`relevance` (Chefer et al.'s gradient method),
`checks` (the deep checks: faithfulness, stability, coverage, reliability, and the shared
judgements), `classic` (error level analysis and the noise residual).
"""
