"""The workflow's plan as data: presets composed over one base, the runs a config trains and scores,
the shell command of each stage, and the audit of every planned job against its recipe.

Snakemake's rules (workflow/rules/*.smk) read their run configs, paths and commands from here, so
the plan the audit and the tests read is the plan Snakemake runs. Nothing here runs a model.
"""
