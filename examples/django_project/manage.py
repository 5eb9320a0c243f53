#!/usr/bin/env python
"""``python manage.py runserver`` serves ``wsgi.application``: Django behind the edge."""

import os
import sys

if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
